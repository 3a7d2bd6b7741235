terraform {
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}

# `giif-agent init` prints this block with the paths of your identity.
provider "giif" {
  endpoint    = "agent.lab.example:7443"
  ca_cert     = "/etc/giif/ca.pem"
  client_cert = "/etc/giif/clients/operator.pem"
  client_key  = "/etc/giif/clients/operator-key.pem"
}
