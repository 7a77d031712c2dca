output "vpc_id" {
  description = "ID of the cluster VPC"
  value       = aws_vpc.main.id
}

output "public_subnet_ids" {
  description = "Public subnets (load balancers, NAT gateway)"
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (Talos nodes)"
  value       = aws_subnet.private[*].id
}

output "control_plane_security_group_id" {
  description = "Control plane security group ID for use by compute module"
  value       = aws_security_group.control_plane.id
}

output "worker_security_group_id" {
  description = "Worker security group ID for use by compute module"
  value       = aws_security_group.worker.id
}
