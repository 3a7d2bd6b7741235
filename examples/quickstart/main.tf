# The quickstart: one project on the demo site. `make demo` applies it.
terraform {
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}

# The agent's address and credentials come from GIIF_* variables
# (`source .demo/env`).
provider "giif" {}

resource "giif_project" "physics_lab" {
  name        = "physics-lab"
  description = "Physics 101 lab machines"
  owner       = "prof.curie"
  expires_on  = "2027-06-30"

  members = [
    { user = "prof.curie", role = "manager" },
    { user = "student01", role = "member" },
  ]
}

output "project_id" {
  value = giif_project.physics_lab.id
}

output "project_vlan" {
  value = giif_project.physics_lab.vlan
}
