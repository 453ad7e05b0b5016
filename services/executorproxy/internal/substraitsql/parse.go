package substraitsql

import (
	"fmt"

	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// ParseJSON reads a plan in proto3 JSON (pkg/substraitplan): plans from producers that
// predate extension URNs (Isthmus among them) are migrated first, and unknown fields are
// ignored.
func ParseJSON(data []byte) (*substraitpb.Plan, error) {
	p, err := substraitplan.Decode(data, substraitplan.ContentTypeJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	return p, nil
}
