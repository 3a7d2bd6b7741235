# The explicit Guacamole connections of every project the caller may read
# (the consoles of VMs and servers belong to their resources).
list "giif_guacamole_connection" "all" {
  provider = giif
  limit    = 500
}
