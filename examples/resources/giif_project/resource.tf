resource "giif_project" "example" {
  name        = "chem-lab"
  description = "Chemistry practicals"
  owner       = "dr.lavoisier"
  expires_on  = "2027-01-31"

  members = [
    { user = "dr.lavoisier", role = "manager" },
    { user = "ta.berthollet", role = "member" },
  ]

  timeouts {
    create = "10m"
  }
}
