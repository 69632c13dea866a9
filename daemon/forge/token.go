package forge

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"
)

// TokenFromFileOrEnv reads a forge token from file (a mounted Kubernetes
// Secret; surrounding whitespace such as the trailing newline is
// ignored) or, when file is "", from the environment variable env.
// Errors name the source, never the token.
func TokenFromFileOrEnv(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		return checkToken(string(b), "token file "+file)
	}
	if env == "" {
		return "", errors.New("token: neither a file nor an environment variable given")
	}
	v, ok := os.LookupEnv(env)
	if !ok {
		return "", fmt.Errorf("token: environment variable %s is not set", env)
	}
	return checkToken(v, "token: environment variable "+env)
}

// checkToken trims the token read from source and rejects what cannot be
// one: nothing, or several words (a file holding something else).
func checkToken(s, source string) (string, error) {
	token := strings.TrimSpace(s)
	switch {
	case token == "":
		return "", fmt.Errorf("%s is empty", source)
	case strings.ContainsFunc(token, unicode.IsSpace):
		return "", fmt.Errorf("%s holds more than one word, not a token", source)
	}
	return token, nil
}
