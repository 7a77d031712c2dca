# Talos on Hetzner Cloud with the siderolabs/talos provider. The control-plane patch mixes
# values known now (CNI off, kube-proxy off, scheduler metrics on all interfaces) with values
# known only after apply (the server's public IP as a certSAN, Cilium's rendered manifest).

variable "extra_control_plane_patch" {
  description = "Site-specific patch supplied by the pipeline"
  type        = string
}

locals {
  node_network = "10.80.0.0/24"
}

resource "hcloud_server" "cp" {
  name        = "talos-cp-1"
  server_type = "cx32"
  image       = "talos-v1.9"
}

data "helm_template" "cilium" {
  name       = "cilium"
  repository = "https://helm.cilium.io"
  chart      = "cilium"
  namespace  = "kube-system"
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "controlplane" {
  cluster_name     = "hz"
  machine_type     = "controlplane"
  cluster_endpoint = "https://10.80.0.11:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [
    yamlencode({
      machine = {
        certSANs = [hcloud_server.cp.ipv4_address]
        network = {
          interfaces = [{ interface = "eth1", addresses = ["10.80.0.11/24"] }]
        }
      }
      cluster = {
        network = { cni = { name = "none" } }
        proxy   = { disabled = true }
        scheduler = {
          extraArgs = { "bind-address" = "0.0.0.0" }
        }
        inlineManifests = [{ name = "cilium", contents = data.helm_template.cilium.manifest }]
      }
    }),
    <<-EOT
    apiVersion: v1alpha1
    kind: NetworkDefaultActionConfig
    ingress: block
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: cluster-ports
    portSelector:
      ports: [50000, 50001, 6443, 10250, "2379-2380"]
      protocol: tcp
    ingress:
      - subnet: 10.80.0.11/32
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: control-plane-metrics
    portSelector:
      ports: ["10257-10259"]
      protocol: tcp
    ingress:
      - subnet: ${local.node_network}
    EOT
    ,
    var.extra_control_plane_patch,
  ]
}

resource "talos_machine_configuration_apply" "cp" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.controlplane.machine_configuration
  node                        = "10.80.0.11"
}
