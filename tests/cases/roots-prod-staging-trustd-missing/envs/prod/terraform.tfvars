environment = "talos-prod"
vpc_cidr    = "10.0.0.0/16"

# Restrict to your public IP
# Find your IP: curl -s ifconfig.me
allowed_admin_cidrs = [
  "196.45.28.20/32",
]

cni_type = "cilium"

# Talos Linux AMI for eu-west-1 (replace with the image for your region and Talos version).
talos_ami_id = "ami-0a1b2c3d4e5f67890"

tags = {
  Project   = "talos"
  ManagedBy = "terraform"
}
