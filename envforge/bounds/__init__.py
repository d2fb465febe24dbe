"""Every bound envforge puts on untrusted input, so that what a model directory, a tracking server or a child
process hands envforge's own process stays small whatever it holds (issue 17):

- `limits`: the table of limits (bytes, lines, levels, values, files; each raised by its environment
  variable), `read_bounded` and the other readers that check them before reading;
- `parsing`: JSON and YAML parsed within those limits (their shape checked before objects are built);
- `child_output`: a child process's output held within a byte budget (its head and its tail).
"""
