variable "environment" {
  description = "Name prefix for every resource"
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the cluster VPC"
  type        = string
}

variable "availability_zones" {
  description = "Availability zones for the subnets"
  type        = list(string)
}

variable "enable_nodeport" {
  description = "Open the NodePort range (30000-32767) on the worker security group"
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}
