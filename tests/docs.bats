#!/usr/bin/env bats
# The documentation holds together: the README stays a short page for users,
# and every link in the Markdown pages, and every man page the README names,
# leads somewhere.

setup() {
	load helpers/common
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

# The Markdown pages whose links are checked, relative to the root.
markdown_pages() {
	(cd "$root" && ls README.md docs/*.md examples/README.md bench/RESULTS.md)
}

# The link targets of a Markdown page, one a line, outside fenced code.
links_of() {
	awk '/^```/ { code = !code; next } !code' "$1" |
		grep -o '\](<\?[^)>]*>\?)' | sed 's/^](<\?//; s/>\?)$//'
}

# GitHub's anchor for each heading of a Markdown page, one a line.
anchors_of() {
	awk '/^```/ { code = !code; next } !code && /^#+ /' "$1" |
		sed 's/^#* //' | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}

@test "README.md is at most 10,240 bytes" {
	local size
	size=$(stat -c %s "$root/README.md")
	((size <= 10240)) || fail "README.md is $size bytes, more than 10240"
}

@test "every relative link in the Markdown pages leads to a file, and every anchor to a heading" {
	local page target file anchor bad=() count=0
	while read -r page; do
		while read -r target; do
			case $target in
			http://* | https://* | mailto:*) continue ;;
			esac
			count=$((count + 1))
			file=${target%%#*}
			anchor=
			[[ $target == *'#'* ]] && anchor=${target#*#}
			if [[ -z $file ]]; then
				file=$root/$page
			else
				file=$(dirname "$root/$page")/$file
			fi
			if [[ ! -e $file ]]; then
				bad+=("$page: $target (no such file)")
			elif [[ -n $anchor ]] && ! anchors_of "$file" | grep -qxF -- "$anchor"; then
				bad+=("$page: $target (no such heading)")
			fi
		done < <(links_of "$root/$page")
	done < <(markdown_pages)
	((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
	# The README links to the man pages and docs/: a check that found no
	# link would prove nothing.
	((count >= 10)) || fail "only $count links found"
}

@test "every resetguard man page the README names is in man/" {
	local name section bad=() names
	names=$(grep -o 'resetguard[a-z.]*([0-9])' "$root/README.md" | sort -u)
	[[ -n $names ]] || fail "the README names no man page"
	while read -r name; do
		section=${name##*(}
		section=${section%)}
		name=${name%(*}
		[[ -f $root/man/$name.$section ]] || bad+=("$name($section): no man/$name.$section")
	done <<<"$names"
	((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
}
