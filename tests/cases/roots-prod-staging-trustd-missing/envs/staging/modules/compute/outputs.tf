output "control_plane_instance_ids" {
  description = "IDs of the control plane instances"
  value       = aws_instance.control_plane[*].id
}

output "control_plane_private_ips" {
  description = "Private IP addresses of the control plane nodes"
  value       = aws_instance.control_plane[*].private_ip
}

output "worker_private_ips" {
  description = "Private IP addresses of the worker nodes"
  value       = aws_instance.worker[*].private_ip
}
