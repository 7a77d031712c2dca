variable "aws_region" {
  description = "AWS region to deploy into"
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Name prefix for every resource (e.g. talos-prod)"
  type        = string
  default     = "talos"
}

variable "vpc_cidr" {
  description = "CIDR block of the cluster VPC"
  type        = string
  default     = "10.0.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones for the public and private subnets (one subnet of each per zone)"
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

# CIDR ranges allowed to reach the K8s API (6443) and Talos API (50000)
# from outside the VPC. Empty list = VPC-only access.
variable "allowed_admin_cidrs" {
  description = "CIDR ranges allowed to reach K8s API (6443) and Talos API (50000) from outside the VPC"
  type        = list(string)
  default     = []
}

# Container Network Interface plugin (cilium or calico).
variable "cni_type" {
  description = "CNI plugin the cluster runs (the security group rules are written for Cilium)"
  type        = string
  default     = "cilium"

  validation {
    condition     = contains(["cilium", "calico"], var.cni_type)
    error_message = "cni_type must be \"cilium\" or \"calico\"."
  }
}

# Open NodePort range (30000-32767) in worker security groups.
variable "enable_nodeport" {
  description = "Open the NodePort range (30000-32767) on the worker security group"
  type        = bool
  default     = false
}

variable "talos_ami_id" {
  description = "Talos Linux AMI for the region (see the Talos cloud images page)"
  type        = string
}

variable "control_plane_count" {
  description = "Number of control plane nodes (odd, for etcd quorum)"
  type        = number
  default     = 3
}

variable "worker_count" {
  description = "Number of worker nodes"
  type        = number
  default     = 2
}

variable "control_plane_instance_type" {
  description = "EC2 instance type of the control plane nodes"
  type        = string
  default     = "t3.medium"
}

variable "worker_instance_type" {
  description = "EC2 instance type of the worker nodes"
  type        = string
  default     = "t3.large"
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}
