package s3backend_test

import (
	"context"
	"fmt"

	"github.com/cloudraya/raya/backends/s3backend"
)

// A composition root or plugin configures the backend from strings.
func ExampleConfigFromMap() {
	cfg, err := s3backend.ConfigFromMap(map[string]string{
		"endpoint":          "https://s3.ap-southeast-3.amazonaws.com",
		"region":            "ap-southeast-3",
		"access_key_id":     "AKIAEXAMPLE",
		"secret_access_key": "secret",
		"bucket_prefix":     "raya-",
		"part_size":         "32MiB",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := s3backend.New(context.Background(), cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	fmt.Println(cfg.BucketPrefix+"photos", cfg.PartSize>>20)
	// Output: raya-photos 32
}
