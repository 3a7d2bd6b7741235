data "giif_iso_images" "for_servers" {
  usable_for = "servers"
}

output "server_images" {
  value = { for image in data.giif_iso_images.for_servers.images : image.name => image.description }
}
