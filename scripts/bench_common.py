"""What the benchmark reports share: a median with its range, and rewriting one marked section of
docs/benchmarks.md."""

import statistics


def spread(values, fmt="{:,.0f}", sep="–"):
    """The median of `values` with their range in brackets ('–' when there are none; NaNs dropped);
    `sep` between the range's ends (spaced where figures may be negative)."""
    values = [v for v in values if v == v]
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}{sep}{fmt.format(max(values))})"


def replace_section(target, begin, end, block):
    """Writes `block` (which starts with `begin` and ends with `end`) over that section of the file
    `target`, or at its end when it has none; the rest of the file is left as it is."""
    text = target.read_text() if target.exists() else ""
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    target.write_text(text)
