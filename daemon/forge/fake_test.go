package forge

import (
	"context"
	"fmt"
	"slices"
)

// fakeForge is one pull request's conversation in memory, listed in pages
// the way forges do, counting the calls made to it.
type fakeForge struct {
	pr       int
	pageSize int // 0: one page
	comments []Comment
	nextID   int64

	pagesRead, creates, edits int
	failList, failCreate      error
}

var _ Provider = (*fakeForge)(nil)

func newFakeForge(pr int, comments ...Comment) *fakeForge {
	f := &fakeForge{pr: pr, comments: slices.Clone(comments), nextID: 100}
	for _, c := range comments {
		f.nextID = max(f.nextID, c.ID+1)
	}
	return f
}

func (f *fakeForge) ListComments(ctx context.Context, pr int) ([]Comment, error) {
	if err := f.check(ctx, pr); err != nil {
		return nil, err
	}
	if f.failList != nil {
		return nil, f.failList
	}
	size := f.pageSize
	if size <= 0 {
		size = max(len(f.comments), 1)
	}
	var all []Comment
	for lo := 0; ; lo += size {
		f.pagesRead++
		hi := min(lo+size, len(f.comments))
		all = append(all, f.comments[lo:hi]...)
		if hi == len(f.comments) {
			return all, nil
		}
	}
}

func (f *fakeForge) CreateComment(ctx context.Context, pr int, body string) (Comment, error) {
	if err := f.check(ctx, pr); err != nil {
		return Comment{}, err
	}
	if f.failCreate != nil {
		return Comment{}, f.failCreate
	}
	f.creates++
	c := Comment{ID: f.nextID, Body: body}
	f.nextID++
	f.comments = append(f.comments, c)
	return c, nil
}

func (f *fakeForge) EditComment(ctx context.Context, id int64, body string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range f.comments {
		if f.comments[i].ID == id {
			f.edits++
			f.comments[i].Body = body
			return nil
		}
	}
	return &HTTPError{StatusCode: 404, Err: fmt.Errorf("comment %d: not found", id)}
}

func (f *fakeForge) SetStatus(ctx context.Context, sha string, s Status) error {
	return fmt.Errorf("fakeForge: no statuses")
}

func (f *fakeForge) check(ctx context.Context, pr int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if pr != f.pr {
		return &HTTPError{StatusCode: 404, Err: fmt.Errorf("pull request %d: not found", pr)}
	}
	return nil
}
