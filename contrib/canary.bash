# bash completion for canary(1): a shim around `canary __complete`, which
# answers from the same option tables that parse the command line.
_canary()
{
	local line=${COMP_LINE:0:COMP_POINT}
	local -a words
	read -ra words <<<"$line"
	[[ -z $line || $line == *[[:space:]] ]] && words+=("")
	local IFS=$'\n'
	local -a reply
	reply=($(command "${words[0]}" __complete "${words[@]:1}" 2>/dev/null)) || return
	# What readline replaces: the current word after its last '=' or ':'.
	local cur=${words[-1]##*[=:]}
	case ${reply[0]} in
	words) COMPREPLY=("${reply[@]:1}") ;;
	nospace)
		COMPREPLY=("${reply[@]:1}")
		compopt -o nospace 2>/dev/null ;;
	files | files=)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null ;;
	files\ *)
		COMPREPLY=($(compgen -d -- "$cur"; shopt -s extglob
			compgen -f -X "!*.@(${reply[0]#files })" -- "$cur"))
		compopt -o filenames 2>/dev/null ;;
	esac
}
complete -F _canary canary
