// Rasp.g4 - the grammar of the raspc language.
//
// Two layers share one syntax: RASP sequence programs (`def`) and attention
// models (`model`). The grammar only knows shapes of text; which names are
// built-ins, which arguments a call takes and what is well typed is decided
// by Sema. The lexer never fails: characters it does not know become
// ERROR_CHAR tokens and unclosed strings UNTERMINATED_STRING tokens, which
// the front end reports with a location before parsing.
grammar Rasp;

module_ : item* EOF ;

item
  : vocabDecl
  | defDecl
  | modelDecl
  ;

vocabDecl : 'vocab' name=ID '=' '{' literal (',' literal)* ','? '}' ';' ;

defDecl : 'def' name=ID '(' paramList? ')' ('->' result=typeRef)? block ;

modelDecl : 'model' name=ID '(' paramList? ')' '->' result=typeRef block ;

paramList : param (',' param)* ;

param : name=ID (':' typeRef)? ;

// `int`, `token`, a vocabulary's name, `f32`, `f32[T, 512]`, `i32[T]`.
typeRef : name=ID ('[' dim (',' dim)* ']')? ;

dim : ID | INT ;

block : '{' stmt* '}' ;

stmt
  : 'let' name=ID '=' expr ';'                      # letStmt
  | 'param' ID (',' ID)* ':' typeRef ';'            # paramStmt
  | 'return' expr ';'                               # returnStmt
  ;

// Alternatives are listed from the tightest binding to the loosest.
expr
  : primary                                                     # atomExpr
  | base=expr '[' index=expr ']'                                # indexExpr
  | op=('-' | '+') operand=expr                                 # unaryExpr
  | lhs=expr op=('*' | '/' | '%' | '@') rhs=expr                # mulExpr
  | lhs=expr op=('+' | '-') rhs=expr                            # addExpr
  | lhs=expr op=('==' | '!=' | '<' | '<=' | '>' | '>=') rhs=expr  # cmpExpr
  | 'not' operand=expr                                          # notExpr
  | lhs=expr 'and' rhs=expr                                     # andExpr
  | lhs=expr 'or' rhs=expr                                      # orExpr
  | <assoc=right> then=expr 'if' cond=expr 'else' otherwise=expr  # condExpr
  | selector=expr 'scored' score=expr                           # scoredExpr
  ;

primary
  : literal                                         # literalPrimary
  | callee=ID '(' (argument (',' argument)*)? ')'   # callPrimary
  | ID                                              # namePrimary
  | '(' expr ')'                                    # parenPrimary
  | '{' dictEntry (',' dictEntry)* ','? '}'         # dictPrimary
  ;

literal
  : INT                                             # intLiteral
  | FLOAT                                           # floatLiteral
  | STRING                                          # stringLiteral
  | value=('true' | 'false')                        # boolLiteral
  ;

dictEntry : key=expr ':' value=expr ;

argument
  : name=ID '=' expr                                # keywordArgument
  | lambdaParams '=>' body=expr                     # lambdaArgument
  | op=('==' | '!=' | '<' | '<=' | '>' | '>=')      # comparisonArgument
  | expr                                            # exprArgument
  ;

lambdaParams
  : ID
  | '(' ID (',' ID)* ')'
  ;

// Checkpoint names such as `encoder.layer.0.attention.self.query.weight`
// are names: dots join parts, and parts after a dot may start with a digit.
ID : [a-zA-Z_] [a-zA-Z_0-9]* ('.' [a-zA-Z_0-9]+)* ;
FLOAT
  : [0-9]+ '.' [0-9]* EXPONENT?
  | '.' [0-9]+ EXPONENT?
  | [0-9]+ EXPONENT
  ;
INT : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;
STRING
  : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"'
  | '\'' (~['\\\r\n] | '\\' ~[\r\n])* '\''
  ;
UNTERMINATED_STRING
  : '"' (~["\\\r\n] | '\\' ~[\r\n])*
  | '\'' (~['\\\r\n] | '\\' ~[\r\n])*
  ;
COMMENT : '#' ~[\r\n]* -> skip ;
WS : [ \t\r\n]+ -> skip ;
ERROR_CHAR : . ;
