# The assignment of server bms01, whichever project holds it.
list "giif_bms_assignment" "bms01" {
  provider = giif

  config {
    name = "bms01"
  }
}
