module github.com/surfaces-bot/surfaces

go 1.26.0
