package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEFrontDoor (issue 24 item 1): the README is a front door, under
// 200 lines: what a person receives, in two pictures that exist; the two
// commands; install from a package; and a map of docs/ that names every
// page there (a page left off the map is a page nobody finds).
func TestREADMEFrontDoor(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if n := strings.Count(readme, "\n"); n >= 200 {
		t.Errorf("README.md is %d lines: a front door stays under 200; move the detail to a page of docs/", n)
	}
	images := regexp.MustCompile(`!\[[^\]]+\]\(([^)]+)\)`).FindAllStringSubmatch(readme, -1)
	if len(images) < 2 {
		t.Errorf("README.md shows %d pictures, want the page and a message", len(images))
	}
	for _, m := range images {
		if fi, err := os.Stat(filepath.Join("..", m[1])); err != nil || fi.Size() == 0 {
			t.Errorf("README.md's picture %s: %v", m[1], err)
		}
	}
	for _, want := range []string{"## What you receive", "make run", "make test", "## Install from a package", "apt install ./dist/backupwatch_", "## Documentation"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	_, doc, _ := strings.Cut(readme, "## Documentation")
	doc, _, _ = strings.Cut(doc, "\n## ")
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if !strings.Contains(doc, "](docs/"+p+")") {
			t.Errorf("README.md's map of docs/ does not name docs/%s", p)
		}
	}
	// The map's configuration row names the file's keys people look for.
	for _, key := range []string{"hosts:", "labels:", "page_after:", "schedules:"} {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("README.md's map: the configuration row does not name %s", key)
		}
	}
}

// TestPagesHaveContents (issue 24 item 1): each page of docs/ longer than
// a screenful or two has a "## Contents" that links every one of its "## "
// sections (TestLinks checks that the links arrive).
func TestPagesHaveContents(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?m)^## (.+)$`)
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if strings.Count(src, "\n") <= 200 {
			continue
		}
		_, contents, ok := strings.Cut(src, "\n## Contents\n")
		if !ok {
			t.Errorf("%s: %d lines and no \"## Contents\"", p, strings.Count(src, "\n"))
			continue
		}
		contents, rest, _ := strings.Cut(contents, "\n## ")
		for _, m := range section.FindAllStringSubmatch(fenceRE.ReplaceAllString("## "+rest, ""), -1) {
			a := strings.ReplaceAll(notSlugRE.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), ""), " ", "-")
			if !strings.Contains(contents, "](#"+a+")") {
				t.Errorf("%s: the contents do not link its section %q (#%s)", p, m[1], a)
			}
		}
	}
}
