<<<<<<< HEAD
output "cluster_name" {
  value = "talos-a"
}
=======
output "cluster_name" {
  value = "talos-b"
}
>>>>>>> feature/rename
