machine:
  network:
    hostname: ${hostname}
    interfaces:
%{ for nic in nics ~}
      - interface: ${nic.name}
        addresses: [${nic.address}]
%{ endfor ~}
