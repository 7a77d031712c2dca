variable "security_group_id" {
  description = "Security group that gets the Talos API rules"
  type        = string
}

variable "source_cidrs" {
  description = "Networks allowed to reach the Talos API"
  type        = list(string)
}

resource "aws_vpc_security_group_ingress_rule" "talos_api" {
  count = length(var.source_cidrs)

  security_group_id = var.security_group_id
  description       = "Talos API from ${var.source_cidrs[count.index]}"
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = var.source_cidrs[count.index]
}
