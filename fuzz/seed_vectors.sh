#!/usr/bin/env bash
# Seeds the fuzz_vectors corpus: one small valid input per parser (the first
# byte picks it: 0 path list, 1 CSV vectors, 2 JSON lines vectors, 3 JSON
# lines labels, 4 Label Studio export, 5 ISO 8601 time, 6 class list).
set -u
mkdir -p "$1"
printf '\000a.jpg\nb/c.png\n' > "$1/paths"
printf '\001path,x1,x2\na.jpg,1.5,-2\n"b,c.jpg",3e-2,4\n' > "$1/csv"
printf '\002{"path": "a.jpg", "embedding": [1, 2.5], "probabilities": [0.25, 0.75]}\n' > "$1/jsonl"
printf '\003{"path": "a.jpg", "label": "tennis", "annotator": "ann", "created": 1700000000.25}\n{"path": "b.jpg", "label": "golf", "created": "2024-05-01T12:30:45.5+02:00"}\n' > "$1/labels"
printf '\004[{"data": {"image": "/data/local-files/?d=photos%%2Fa%%20b.jpg"}, "annotations": [{"completed_by": {"email": "a@b.c"}, "created_at": "2024-05-01T12:30:45.123456Z", "result": [{"type": "choices", "value": {"choices": ["tennis"]}}]}, {"completed_by": 3, "was_cancelled": true, "result": []}]}]' > "$1/studio"
printf '\0052024-05-01T12:30:45.123456Z' > "$1/time"
printf '\006golf\ntennis\r\nair hockey\n' > "$1/classes"
# A JSON string with a raw line break: jansson's error quotes it (an error
# message of two lines before ordo_err kept messages to one).
printf '\004[{"d\\\nJ\nata": {"image": "x"}}]' > "$1/studio-raw-newline"
