output "vpc_id" {
  description = "ID of the cluster VPC"
  value       = module.network.vpc_id
}

output "control_plane_security_group_id" {
  description = "Security group of the control plane nodes"
  value       = module.network.control_plane_security_group_id
}

output "worker_security_group_id" {
  description = "Security group of the worker nodes"
  value       = module.network.worker_security_group_id
}

output "control_plane_private_ips" {
  description = "Private IP addresses of the control plane nodes (talosctl endpoints from inside the VPC)"
  value       = module.compute.control_plane_private_ips
}

output "worker_private_ips" {
  description = "Private IP addresses of the worker nodes"
  value       = module.compute.worker_private_ips
}
