# shellcheck shell=bash
# The shell blocks CI runs verbatim out of the documentation. A block is the
# lines between `<!-- NAME:start -->` and `<!-- NAME:end -->`, in README.md
# or in one page of docs/.
# usage: source "$root/.ci/lib/blocks.sh"; mg_doc_block NAME FILE

# mg_doc_block NAME FILE: writes block NAME's lines, without its ``` fences,
# to FILE, and sets mg_block_page to the page it came from (relative to the
# repository). Exits 1 unless exactly one page has the block, once, and the
# block has at least five lines.
mg_doc_block() {
    local name=$1 out=$2 root page start end lines
    local pages=()
    root=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")
    start="<!-- $name:start -->"
    end="<!-- $name:end -->"
    for page in "$root/README.md" "$root"/docs/*.md; do
        if grep -qxF -- "$start" "$page"; then pages+=("$page"); fi
    done
    if [ ${#pages[@]} -eq 0 ]; then
        echo "no page has the '$name' block: '$start' is in neither README.md nor docs/*.md" >&2
        exit 1
    fi
    if [ ${#pages[@]} -gt 1 ]; then
        echo "the '$name' block is in more than one page: ${pages[*]#"$root/"}" >&2
        exit 1
    fi
    page=${pages[0]}
    mg_block_page=${page#"$root/"}
    if [ "$(grep -cxF -- "$start" "$page")" != 1 ] || [ "$(grep -cxF -- "$end" "$page")" != 1 ]; then
        echo "$mg_block_page must have '$start' and '$end' once each" >&2
        exit 1
    fi
    awk -v start="$start" -v end="$end" '$0 == start {on=1; next} $0 == end {on=0} on' "$page" \
        | sed '/^```/d' >"$out"
    lines=$(grep -c . "$out" || true)
    if [ "$lines" -lt 5 ]; then
        echo "the '$name' block of $mg_block_page has $lines lines: is it empty or unterminated?" >&2
        exit 1
    fi
}
