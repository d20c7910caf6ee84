// Velero's own cmd/velero main, plus one setting. Velero 1.18 leaves controller-runtime's metrics
// listener at its ":8080" default with no flag to move it, so two Velero servers cannot share a host;
// VELERO_CONTROLLER_RUNTIME_METRICS_ADDRESS sets it ("0" turns it off). Velero's own metrics keep
// --metrics-address. Everything else is unmodified Velero.
package main

import (
	"os"
	"path/filepath"

	"github.com/vmware-tanzu/velero/pkg/cmd"
	"github.com/vmware-tanzu/velero/pkg/cmd/velero"
	"k8s.io/klog/v2"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	if address := os.Getenv("VELERO_CONTROLLER_RUNTIME_METRICS_ADDRESS"); address != "" {
		metricsserver.DefaultBindAddress = address
	}
	defer klog.Flush()
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
