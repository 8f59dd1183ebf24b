# bash completion for canary(1)
_canary()
{
	local cur prev words cword
	_init_completion || return
	local commands="run validate list grade fingerprint stub demo report merge calibrate history help"
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	local cmd=${words[1]}
	case $prev in
	--report)
		COMPREPLY=($(compgen -W "json= junit= markdown= prom= tap= text=" -- "$cur"))
		compopt -o nospace
		return ;;
	--format)
		COMPREPLY=($(compgen -W "json text junit markdown prom tap html" -- "$cur"))
		return ;;
	--target)
		COMPREPLY=($(compgen -W "eval= prod=" -- "$cur"))
		compopt -o nospace
		return ;;
	--api)
		COMPREPLY=($(compgen -W "openai-chat anthropic-messages http" -- "$cur"))
		return ;;
	--lock | --history | --judge-cache | --reply | --output | --log)
		_filedir
		return ;;
	--concurrency | --retries | --repeat | --timeout | --max-reply | --shard | --stratum | \
	--case | --port | --judge-url | --judge-concurrency | --alpha | --seed | --since | \
	--min-kappa | --notify | --remind | --report-url | --host | --max-drop | --grace)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		local opts
		opts=$(canary "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	_filedir '@(yaml|yml|json)'
}
complete -F _canary canary
