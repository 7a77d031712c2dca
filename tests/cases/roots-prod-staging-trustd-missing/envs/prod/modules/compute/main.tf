# Talos nodes: control plane and workers in the private subnets, spread over the zones.
# Each role gets its own security group from the network module.

resource "aws_instance" "control_plane" {
  count = var.control_plane_count

  ami                    = var.talos_ami_id
  instance_type          = var.control_plane_instance_type
  subnet_id              = element(var.subnet_ids, count.index)
  vpc_security_group_ids = [var.control_plane_sg_id]

  root_block_device {
    volume_size = 20
    volume_type = "gp3"
    encrypted   = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = merge(var.tags, {
    Name = format("%s-talos-cp-%d", var.environment, count.index + 1)
    Role = "control-plane"
  })
}

resource "aws_instance" "worker" {
  count = var.worker_count

  ami                    = var.talos_ami_id
  instance_type          = var.worker_instance_type
  subnet_id              = element(var.subnet_ids, count.index)
  vpc_security_group_ids = [var.worker_sg_id]

  root_block_device {
    volume_size = 50
    volume_type = "gp3"
    encrypted   = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = merge(var.tags, {
    Name = format("%s-talos-worker-%d", var.environment, count.index + 1)
    Role = "worker"
  })
}
