SELECT 1 FROM waitlist.line WHERE next_note_at <= now() LIMIT 1;
