package scenarios

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The published JSON Schema must name exactly the fields the decoder
// accepts, object by object, or editors complete what validate rejects.
func TestSchemaMatchesDecoder(t *testing.T) {
	raw, err := os.ReadFile("scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Items      *object                    `json:"items"`
	}
	var schema struct {
		object
		Defs map[string]object `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("scenario.schema.json: %v", err)
	}
	var stage object
	if err := json.Unmarshal(schema.Defs["load"].Properties["stages"], &stage); err != nil || stage.Items == nil {
		t.Fatalf("load.stages has no item schema: %v", err)
	}
	var holdRange struct {
		OneOf []object `json:"oneOf"`
	}
	if err := json.Unmarshal(schema.Defs["flow"].Properties["hold"], &holdRange); err != nil || len(holdRange.OneOf) != 2 {
		t.Fatalf("flow.hold is not a oneOf of two: %v", err)
	}
	objects := map[string]object{
		"scenario":     schema.object,
		"population":   schema.Defs["population"],
		"flow":         schema.Defs["flow"],
		"hold":         holdRange.OneOf[1],
		"load":         schema.Defs["load"],
		"stage":        *stage.Items,
		"timeouts":     schema.Defs["timeouts"],
		"network":      schema.Defs["network"],
		"action":       schema.Defs["action"],
		"network_step": schema.Defs["network_step"],
	}
	for name, want := range fields {
		var got []string
		for k := range objects[name].Properties {
			got = append(got, k)
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, w) {
			t.Errorf("%s: schema has %v, decoder accepts %v", name, got, w)
		}
	}
	if len(objects) != len(fields) {
		t.Errorf("the test checks %d objects, the decoder has %d", len(objects), len(fields))
	}
}
