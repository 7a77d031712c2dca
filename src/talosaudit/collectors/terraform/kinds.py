"""The file kinds of the Terraform collectors (discovery learns them through the collectors)."""

TERRAFORM = "terraform"
TERRAFORM_JSON = "terraform-json"
TFVARS = "tfvars"
TERRAFORM_PLAN = "terraform-plan"
