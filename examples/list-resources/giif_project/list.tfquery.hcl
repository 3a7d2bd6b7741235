# Every project the caller may read.
list "giif_project" "all" {
  provider = giif
}
