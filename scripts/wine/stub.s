.text
.globl DllMain
DllMain:
  mov $1, %eax
  ret
