# bash completion for ordo. The commands and each command's options are read
# from `ordo --help` and `ordo COMMAND --help`, so completion follows the
# installed binary and never lists an option it lacks.
_ordo()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    if [ "$cword" -eq 1 ]; then
        local cmds
        cmds=$("${words[0]}" --help 2>/dev/null | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
        COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
        return
    fi
    case $prev in
        --model)
            COMPREPLY=($(compgen -W "lite0 lite1 lite2 lite0+lite1+lite2" -- "$cur")); return ;;
        --project|--root|--tree|--embeddings|--out|-o|--weights)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$("${words[0]}" "${words[1]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    case ${words[1]} in
        import)
            if [ "$cword" -eq 2 ]; then COMPREPLY=($(compgen -W "embeddings labels" -- "$cur")); return; fi ;;
        weights)
            if [ "$cword" -eq 2 ]; then COMPREPLY=($(compgen -W "install list" -- "$cur")); return; fi ;;
        user)
            if [ "$cword" -eq 2 ]; then COMPREPLY=($(compgen -W "add list" -- "$cur")); return; fi ;;
    esac
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _ordo ordo
