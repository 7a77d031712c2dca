# A Talos cluster built with the siderolabs/talos provider: the host firewall is written as
# inline config_patches (heredoc YAML). The control plane's apid rule is open to the world.

locals {
  cluster_subnet = "10.0.1.0/24"
  control_plane  = "10.0.1.10"
  worker         = "10.0.1.20"
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "control_plane" {
  cluster_name     = "lab"
  machine_type     = "controlplane"
  cluster_endpoint = "https://${local.control_plane}:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [
    yamlencode({
      cluster = {
        network = { cni = { name = "flannel" } }
      }
    }),
    <<-EOT
    apiVersion: v1alpha1
    kind: NetworkDefaultActionConfig
    ingress: block
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: apid-ingress
    portSelector:
      ports: [50000]
      protocol: tcp
    ingress:
      - subnet: 0.0.0.0/0
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: trustd-ingress
    portSelector:
      ports: [50001]
      protocol: tcp
    ingress:
      - subnet: ${local.cluster_subnet}
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: kubernetes-api-ingress
    portSelector:
      ports: [6443]
      protocol: tcp
    ingress:
      - subnet: ${local.cluster_subnet}
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: etcd-ingress
    portSelector:
      ports: ["2379-2380"]
      protocol: tcp
    ingress:
      - subnet: ${local.control_plane}/32
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: kubelet-ingress
    portSelector:
      ports: [10250]
      protocol: tcp
    ingress:
      - subnet: ${local.cluster_subnet}
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: cni-vxlan
    portSelector:
      ports: [4789]
      protocol: udp
    ingress:
      - subnet: ${local.cluster_subnet}
    EOT
  ]
}

data "talos_machine_configuration" "worker" {
  cluster_name     = "lab"
  machine_type     = "worker"
  cluster_endpoint = "https://${local.control_plane}:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [
    <<-EOT
    cluster:
      network:
        cni:
          name: flannel
    ---
    apiVersion: v1alpha1
    kind: NetworkDefaultActionConfig
    ingress: block
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: apid-ingress
    portSelector:
      ports: [50000]
      protocol: tcp
    ingress:
      - subnet: ${local.control_plane}/32
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: kubelet-ingress
    portSelector:
      ports: [10250]
      protocol: tcp
    ingress:
      - subnet: ${local.cluster_subnet}
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: cni-vxlan
    portSelector:
      ports: [4789]
      protocol: udp
    ingress:
      - subnet: ${local.cluster_subnet}
    EOT
  ]
}

resource "talos_machine_configuration_apply" "control_plane" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.control_plane.machine_configuration
  node                        = local.control_plane
  config_patches = [
    yamlencode({
      machine = {
        network = {
          interfaces = [{ interface = "eth0", addresses = ["${local.control_plane}/24"] }]
        }
      }
    }),
  ]
}

resource "talos_machine_configuration_apply" "worker" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.worker.machine_configuration
  node                        = local.worker
  config_patches = [
    yamlencode({
      machine = {
        network = {
          interfaces = [{ interface = "eth0", addresses = ["${local.worker}/24"] }]
        }
      }
    }),
  ]
}
