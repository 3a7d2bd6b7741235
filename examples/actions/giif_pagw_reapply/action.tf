# Push the gateway's configuration again after it was restored from a backup:
# `terraform apply -invoke=action.giif_pagw_reapply.physics_lab`.
action "giif_pagw_reapply" "physics_lab" {
  config {
    gateway = "physics-lab" # the project's name or id, or the gateway's id
  }
}
