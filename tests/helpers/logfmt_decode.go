// logfmt_decode: reads logfmt records on stdin with go-logfmt's decoder
// (github.com/go-logfmt/logfmt, Debian's golang-github-go-logfmt-logfmt-dev)
// and prints each as one JSON object of its keys and decoded values.
// Exits 1 on anything the decoder refuses.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-logfmt/logfmt"
)

func main() {
	d := logfmt.NewDecoder(bufio.NewReader(os.Stdin))
	out := json.NewEncoder(os.Stdout)
	for d.ScanRecord() {
		rec := map[string]string{}
		for d.ScanKeyval() {
			rec[string(d.Key())] = string(d.Value())
		}
		if d.Err() != nil {
			break
		}
		if err := out.Encode(rec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := d.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "logfmt:", err)
		os.Exit(1)
	}
}
