// lk8s-probe: a tiny static binary for the local cluster's self-test image.
//
//	lk8s-probe serve            HTTP on :8080, answers "probe <hostname> <- <remote addr>"
//	lk8s-probe get URL          HTTP GET (3 s timeout), prints the body; exit 1 on error
//	lk8s-probe tcp HOST:PORT    TCP connect (3 s timeout); exit 1 on error
//	lk8s-probe resolve NAME     DNS lookup through the pod's resolv.conf; exit 1 on error
//	lk8s-probe sleep            block forever
//
// Installed a second time as /lk8s-volume, it is the local-path-provisioner's helper command
// (setupCommand/teardownCommand): lk8s-volume -p DIR -s SIZE -m MODE -a create|delete makes
// DIR (mode 0777) or removes it, refusing any DIR outside $LK8S_VOLUME_ROOT.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// volume implements the local-path-provisioner helper protocol without a shell.
func volume(args []string) {
	fs := flag.NewFlagSet("lk8s-volume", flag.ExitOnError)
	path := fs.String("p", "", "volume directory")
	fs.String("s", "0", "size in bytes (not enforced)")
	mode := fs.String("m", "Filesystem", "volume mode")
	action := fs.String("a", "", "create or delete")
	_ = fs.Parse(args)
	root := filepath.Clean(os.Getenv("LK8S_VOLUME_ROOT"))
	dir := filepath.Clean(*path)
	if root == "." || root == "/" || !filepath.IsAbs(dir) || !strings.HasPrefix(dir, root+"/") {
		fail(fmt.Errorf("refusing volume path %q (must be under LK8S_VOLUME_ROOT=%q)", *path, root))
	}
	switch *action {
	case "create":
		if *mode != "Filesystem" {
			fail(fmt.Errorf("volume mode %q not supported", *mode))
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			fail(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			fail(err)
		}
		fmt.Println("created", dir)
	case "delete":
		if err := os.RemoveAll(dir); err != nil {
			fail(err)
		}
		fmt.Println("deleted", dir)
	default:
		fail(fmt.Errorf("unknown action %q", *action))
	}
}

func main() {
	if filepath.Base(os.Args[0]) == "lk8s-volume" {
		volume(os.Args[1:])
		return
	}
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: lk8s-probe serve|get URL|tcp HOST:PORT|resolve NAME|sleep"))
	}
	switch os.Args[1] {
	case "serve":
		h, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "probe %s <- %s\n", h, r.RemoteAddr)
		})
		fail(http.ListenAndServe(":8080", nil))
	case "get":
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get(os.Args[2])
		if err != nil {
			fail(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Print(string(b))
	case "tcp":
		conn, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fail(err)
		}
		fmt.Println("connected", conn.RemoteAddr())
		conn.Close()
	case "resolve":
		addrs, err := net.LookupHost(os.Args[2])
		if err != nil {
			fail(err)
		}
		fmt.Println(addrs)
	case "sleep":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}
