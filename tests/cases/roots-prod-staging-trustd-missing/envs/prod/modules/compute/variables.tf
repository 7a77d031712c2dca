variable "environment" {
  description = "Name prefix for every resource"
  type        = string
}

variable "talos_ami_id" {
  description = "Talos Linux AMI"
  type        = string
}

variable "control_plane_count" {
  description = "Number of control plane nodes"
  type        = number
}

variable "worker_count" {
  description = "Number of worker nodes"
  type        = number
}

variable "control_plane_instance_type" {
  description = "EC2 instance type of the control plane nodes"
  type        = string
}

variable "worker_instance_type" {
  description = "EC2 instance type of the worker nodes"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the nodes are spread over"
  type        = list(string)
}

variable "control_plane_sg_id" {
  description = "Security group of the control plane nodes"
  type        = string
}

variable "worker_sg_id" {
  description = "Security group of the worker nodes"
  type        = string
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}
