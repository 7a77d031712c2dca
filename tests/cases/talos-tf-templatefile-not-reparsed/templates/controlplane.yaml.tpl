machine:
  network:
    hostname: ${hostname}
    interfaces:
      - interface: eth0
        addresses: [${node_ip}/24]
cluster:
  allowSchedulingOnControlPlanes: true
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
name: apid-apiserver
portSelector:
  ports: [50000, 6443]
  protocol: tcp
ingress:
%{ for cidr in admin_cidrs ~}
  - subnet: ${cidr}
%{ endfor ~}
