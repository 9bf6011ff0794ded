# Kubernetes targets: a local single-node cluster (hack/localk8s), the images, the Helm chart,
# the one-command demo and the end-to-end suite. Included by the Makefile
# (`include mk/k8s.mk`); uses its PYTHON, BIN, PYTEST_ARGS and the venv target.
#
# The local cluster needs root and Debian (hack/localk8s/deps.sh installs the packages).
# `deploy`, `undeploy` and `e2e` work against whatever KUBECONFIG points at (kind, k3d, a cloud
# cluster); with KUBECONFIG unset they use the local cluster.

LOCALK8S := hack/localk8s
LOCALK8S_KUBECONFIG := $(or $(LOCALK8S_RUN),/var/tmp/photondb-localk8s)/admin.kubeconfig
K8S_KUBECONFIG = $(or $(KUBECONFIG),$(LOCALK8S_KUBECONFIG))
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
NODE_IMAGE ?= photondb/node
OPERATOR_IMAGE ?= photondb/operator
OPERATOR_NAMESPACE ?= photondb-system
OPERATOR_RELEASE ?= photon-operator
OPERATOR_CHART ?= charts/photon-operator
# kubectl/helm: from PATH if present, else the ones hack/localk8s/build.sh cached (never builds)
K8S_TOOLS = PATH="$$PATH:$$($(LOCALK8S)/tools.sh)"

export IMAGE_TAG NODE_IMAGE OPERATOR_IMAGE

.PHONY: cluster-up cluster-down cluster-status images deploy undeploy demo e2e kubeconfig

cluster-up: ## local single-node Kubernetes (first run builds it from source, ~15 min)
	$(LOCALK8S)/deps.sh cluster
	$(LOCALK8S)/build.sh >/dev/null
	$(LOCALK8S)/up.sh >/dev/null
	@echo ">> cluster up. Use it with:  export KUBECONFIG=$(LOCALK8S_KUBECONFIG)"
	@echo ">> kubectl/helm:             export PATH=\"\$$PATH:$$($(LOCALK8S)/tools.sh)\""

cluster-down: ## stop the local cluster and remove everything it made
	$(LOCALK8S)/down.sh

cluster-status: ## the local cluster's node and pods
	@$(K8S_TOOLS) kubectl --kubeconfig=$(LOCALK8S_KUBECONFIG) get nodes,pods -A -o wide

kubeconfig: ## print the export line for the local cluster (eval "$(make -s kubeconfig)")
	@echo "export KUBECONFIG=$(LOCALK8S_KUBECONFIG)"
	@echo "export PATH=\"\$$PATH:$$($(LOCALK8S)/tools.sh)\""

images: venv ## build photondb/node and photondb/operator images and load them into the local cluster
	$(LOCALK8S)/deps.sh images
	PIP=$(abspath $(BIN))/pip $(LOCALK8S)/images.sh all

deploy: ## helm install the operator chart into $KUBECONFIG's cluster (default: the local one)
	@test -d $(OPERATOR_CHART) || { echo "error: no chart at $(OPERATOR_CHART)"; exit 1; }
	$(K8S_TOOLS) KUBECONFIG=$(K8S_KUBECONFIG) helm upgrade --install $(OPERATOR_RELEASE) $(OPERATOR_CHART) \
	  --namespace $(OPERATOR_NAMESPACE) --create-namespace \
	  --set image.repository=$(OPERATOR_IMAGE) --set image.tag=$(IMAGE_TAG) \
	  --set image.pullPolicy=IfNotPresent --wait --timeout 5m

undeploy: ## helm uninstall the operator
	$(K8S_TOOLS) KUBECONFIG=$(K8S_KUBECONFIG) helm uninstall $(OPERATOR_RELEASE) \
	  --namespace $(OPERATOR_NAMESPACE) --ignore-not-found --wait

demo: venv ## one command on a fresh machine: cluster, images, operator, a 3-node PhotonCluster
	PIP=$(abspath $(BIN))/pip $(LOCALK8S)/demo.sh

e2e: venv ## end-to-end tests against $KUBECONFIG's cluster (default: the local one)
	$(K8S_TOOLS) KUBECONFIG=$(K8S_KUBECONFIG) E2E_NODE_IMAGE=$(NODE_IMAGE):$(IMAGE_TAG) \
	  E2E_OPERATOR_IMAGE=$(OPERATOR_IMAGE):$(IMAGE_TAG) $(BIN)/pytest tests/e2e $(PYTEST_ARGS)
