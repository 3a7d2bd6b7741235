# Bringing a site made by hand (with giif-agent, the Guacamole UI, or another
# team's Terraform) under this configuration, with Terraform 1.14 or later:
#
#   terraform query -generate-config-out=generated.tf
#   terraform plan    # "N to import, 0 to add, 0 to change, 0 to destroy"
#   terraform apply
#
# `site.tfquery.hcl` says what to look for; `terraform query` lists it, and
# `-generate-config-out` writes a resource block and an import block (by
# identity) for every object found. Review generated.tf, rename its
# resources, then move them into your own files.
terraform {
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}

# The agent's address and credentials come from GIIF_* variables.
provider "giif" {}
