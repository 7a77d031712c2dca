resource "aws_vpc_security_group_ingress_rule" "cp_talos_api_public" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Talos API from anywhere"
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = "0.0.0.0/0"
}
