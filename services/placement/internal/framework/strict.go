package framework

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/pkg/confcheck"
)

// decodeStrict is confcheck.DecodeStrict with the byte offset of a syntax error in the
// message: "invalid JSON at offset 12: invalid character …".
func decodeStrict(data []byte, v any) error {
	err := confcheck.DecodeStrict(data, v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d: %s", se.Offset, se.Error())
	}
	return err
}
