terraform {
  required_version = ">= 1.11"
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}
