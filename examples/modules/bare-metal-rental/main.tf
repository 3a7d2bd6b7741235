# A bare-metal rental: a project with its gateway and N servers taken from the
# site's inventory by tag, each with its iDRAC console in Guacamole and an
# installer ISO in its virtual CD.

data "giif_bms_inventory" "free" {
  state = "free"
  tag   = var.server_tag
}

data "giif_bms_inventory" "tagged" {
  tag = var.server_tag
}

locals {
  free = data.giif_bms_inventory.free.servers[*].name
  # Servers this rental already holds (none until it is made).
  held = [for s in data.giif_bms_inventory.tagged.servers : s.name if s.project_id == giif_project.rental.id]
}

# The servers picked when the rental was made: once assigned they are no
# longer free, so the pick is kept rather than recomputed on every plan.
resource "terraform_data" "pick" {
  input = slice(local.free, 0, min(var.server_count, length(local.free)))

  lifecycle {
    ignore_changes = [input]

    precondition {
      condition     = length(local.held) > 0 || length(local.free) >= var.server_count
      error_message = "The site has ${length(local.free)} free server(s) tagged \"${var.server_tag}\"; this rental needs ${var.server_count}."
    }
  }
}

resource "giif_project" "rental" {
  name       = var.name
  owner      = var.customer
  expires_on = var.expires_on
  members    = var.members
}

resource "giif_pagw" "rental" {
  project_id = giif_project.rental.id
}

resource "giif_bms_assignment" "server" {
  count = var.server_count

  project_id  = giif_project.rental.id
  bms         = terraform_data.pick.output[count.index]
  power_state = var.power_state
  boot_iso    = var.boot_iso

  release = {
    power_off   = true
    eject_media = true
    reset       = var.reset_idrac_on_release ? "bmc" : "none"
  }

  depends_on = [giif_pagw.rental]
}
