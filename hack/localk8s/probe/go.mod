module localk8s/probe

go 1.26
