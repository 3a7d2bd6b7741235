# Boot a server once into the rescue image:
# `terraform apply -invoke=action.giif_server_boot_iso.rescue_node1`.
action "giif_server_boot_iso" "rescue_node1" {
  config {
    server = "bms01"
    iso    = "systemrescue" # an image of the site's ISO library, or a location
  }
}
