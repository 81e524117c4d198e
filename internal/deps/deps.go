package main
import (
_ "github.com/dlclark/regexp2"
_ "github.com/nikolalohinski/gonja/v2"
_ "github.com/go-ego/gse"
_ "golang.org/x/text/unicode/norm"
_ "github.com/schollz/progressbar/v3"
_ "golang.org/x/sys/unix"
)
func main(){}
