package graph

import (
	"context"
	"testing"
)

func TestWithCloud(t *testing.T) {
	src := StaticCredentials{TenantID: "t", ClientID: "c", ClientSecret: "s", Cloud: "china"}
	if _, wrapped := WithCloud(src, "").(cloudOverride); wrapped {
		t.Error("an empty cloud must leave the source as it is")
	}
	c, err := WithCloud(src, "usgov").Credentials(context.Background(), true)
	if err != nil || c.Cloud != "usgov" || c.ClientSecret != "s" {
		t.Errorf("%v %v", c, err)
	}
}
