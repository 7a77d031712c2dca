# Security groups of the Talos nodes: one for the control plane, one for the workers.
# Every ingress rule is its own aws_vpc_security_group_ingress_rule resource that points at
# its group with security_group_id. Sources are the VPC CIDR, the other group, or the
# group itself (self).

resource "aws_security_group" "control_plane" {
  name        = "${var.environment}-talos-control-plane-sg"
  description = "Security group for Talos control plane nodes"
  vpc_id      = aws_vpc.main.id

  tags = merge(var.tags, {
    Name     = "${var.environment}-talos-control-plane-sg"
    NodeType = "control-plane"
  })
}

resource "aws_security_group" "worker" {
  name        = "${var.environment}-talos-worker-sg"
  description = "Security group for Talos worker nodes"
  vpc_id      = aws_vpc.main.id

  tags = merge(var.tags, {
    Name     = "${var.environment}-talos-worker-sg"
    NodeType = "worker"
  })
}

# ---------------------------------------------------------------------------
# Control plane ingress
# ---------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "control_plane_k8s_api" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Kubernetes API server"
  from_port         = 6443
  to_port           = 6443
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_talos_api" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Talos API (apid)"
  from_port         = 50000
  to_port           = 50000
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_etcd" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "etcd peer communication"
  from_port                    = 2379
  to_port                      = 2380
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id # CP-to-CP only
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_kubelet_self" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "Kubelet API (CP-to-CP)"
  from_port                    = 10250
  to_port                      = 10250
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_kubelet_vpc" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Kubelet API (admin access)"
  from_port         = 10250
  to_port           = 10250
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_controller_manager" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "kube-controller-manager"
  from_port                    = 10257
  to_port                      = 10257
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_scheduler" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "kube-scheduler"
  from_port                    = 10259
  to_port                      = 10259
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_cilium_geneve_cp" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "Cilium GENEVE overlay (CP-to-CP)"
  from_port                    = 6081
  to_port                      = 6081
  ip_protocol                  = "udp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_cilium_geneve_worker" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "Cilium GENEVE overlay (workers-to-CP)"
  from_port                    = 6081
  to_port                      = 6081
  ip_protocol                  = "udp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_cilium_health_cp" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "Cilium health checks (CP-to-CP)"
  from_port                    = 4240
  to_port                      = 4240
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_cilium_health_worker" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "Cilium health checks (workers-to-CP)"
  from_port                    = 4240
  to_port                      = 4240
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "control_plane_icmp" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Ping for connectivity validation"
  from_port         = -1
  to_port           = -1
  ip_protocol       = "icmp"
  cidr_ipv4         = var.vpc_cidr
}

# ---------------------------------------------------------------------------
# Worker ingress
# ---------------------------------------------------------------------------
# The NodePort rules exist only when var.enable_nodeport is true.
resource "aws_vpc_security_group_ingress_rule" "worker_talos_api_cp" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Talos API from control plane"
  from_port                    = 50000
  to_port                      = 50000
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_talos_api_vpc" {
  security_group_id = aws_security_group.worker.id
  description       = "Talos API (admin access)"
  from_port         = 50000
  to_port           = 50000
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "worker_kubelet_cp" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Kubelet API from control plane"
  from_port                    = 10250
  to_port                      = 10250
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_kubelet_self" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Kubelet API (worker-to-worker)"
  from_port                    = 10250
  to_port                      = 10250
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_kubelet_vpc" {
  security_group_id = aws_security_group.worker.id
  description       = "Kubelet API (admin access)"
  from_port         = 10250
  to_port           = 10250
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "worker_nodeport_self" {
  count = var.enable_nodeport ? 1 : 0

  security_group_id            = aws_security_group.worker.id
  description                  = "NodePort services (worker-to-worker)"
  from_port                    = 30000
  to_port                      = 32767
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_nodeport_vpc" {
  count = var.enable_nodeport ? 1 : 0

  security_group_id = aws_security_group.worker.id
  description       = "NodePort services (admin access)"
  from_port         = 30000
  to_port           = 32767
  ip_protocol       = "tcp"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "worker_cilium_geneve_cp" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Cilium GENEVE overlay (CP-to-workers)"
  from_port                    = 6081
  to_port                      = 6081
  ip_protocol                  = "udp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_cilium_geneve_worker" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Cilium GENEVE overlay (worker-to-worker)"
  from_port                    = 6081
  to_port                      = 6081
  ip_protocol                  = "udp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_cilium_health_cp" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Cilium health checks (CP-to-workers)"
  from_port                    = 4240
  to_port                      = 4240
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_cilium_health_worker" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Cilium health checks (worker-to-worker)"
  from_port                    = 4240
  to_port                      = 4240
  ip_protocol                  = "tcp"
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "worker_icmp" {
  security_group_id = aws_security_group.worker.id
  description       = "Ping for connectivity validation"
  from_port         = -1
  to_port           = -1
  ip_protocol       = "icmp"
  cidr_ipv4         = var.vpc_cidr
}

# ---------------------------------------------------------------------------
# Egress: both groups allow all outbound traffic (image pulls, NTP, discovery).
# ---------------------------------------------------------------------------
resource "aws_vpc_security_group_egress_rule" "control_plane_all" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Allow all outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "worker_all" {
  security_group_id = aws_security_group.worker.id
  description       = "Allow all outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}
